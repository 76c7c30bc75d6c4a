"""smart-grid-rebalancer: control decisions with an audit trail, operator control and webhooks."""
