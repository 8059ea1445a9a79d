"""Static checks of what delivers the API: the workflows, Dependabot, the changelog."""
