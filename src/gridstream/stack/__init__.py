"""Running the whole pipeline on one machine: broker, topics, ten processes, supervision."""
