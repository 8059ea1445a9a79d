"""Attachments: files of an item, uploaded and downloaded by clients directly from S3.

The API never handles file bytes. It records an attachment, hands out a presigned POST whose
policy only admits the declared content type and size, and redirects downloads to short-lived
presigned GETs. Object keys are ``attachments/<item id>/<attachment id>``: server-chosen, never a
client filename.
"""
