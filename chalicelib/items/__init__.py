"""Items: validation, storage in DynamoDB and the use cases of the item routes."""
