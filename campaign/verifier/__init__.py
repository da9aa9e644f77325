"""The standalone verifier of Groundswell's proofs (``verify_proof.py``).

It depends on nothing but the Python standard library and ``cryptography``, so anyone can
download it from the site and check a receipt, a package or the public log without us. The
app imports the same functions, so what the site checks is what the script checks.
"""
