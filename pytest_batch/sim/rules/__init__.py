"""What each provider's live API accepts, one module per provider: the checks on request
bodies, query parameters, headers and names, and on each line of a batch's input, with the
provider's status code, error envelope and message. The backends call these; each rule cites
the docs page or recording it comes from."""
