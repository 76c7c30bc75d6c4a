"""Generated protobuf modules for the GridStream message contracts."""
