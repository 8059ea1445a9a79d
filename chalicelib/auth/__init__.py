"""Authentication and authorization: who calls (the principal) and what they may do.

``permissions`` is plain Python that the API function reads on every request (the principal the
authorizer put in the request context); ``tokens`` verifies JWTs and is imported by the
authorizer function only, so the API function's cold path never loads a JWT library.
"""
