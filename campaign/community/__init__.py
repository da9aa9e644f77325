"""The community blueprint: routes on comments and co-authorships, outside any one proposal."""
