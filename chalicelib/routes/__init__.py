"""The HTTP layer: Chalice blueprints of the routes, and request parsing and response shaping.

The only package of ``chalicelib`` that knows HTTP or Chalice; the domain packages beside it
(``items``, ``attachments``) do not.
"""
