"""Pictures and logos: the upload pages and the stored files."""
