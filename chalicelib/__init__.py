"""The Items API domain: models, storage, errors and settings. Nothing here knows about Chalice."""
