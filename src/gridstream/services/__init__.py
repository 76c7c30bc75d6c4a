"""One module per service: wires core logic to the bus and HTTP (see ``registry``)."""
