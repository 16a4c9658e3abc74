"""The state store (SQLModel on database_url): bindings, indexes, cursor, failures, audit, leases."""
