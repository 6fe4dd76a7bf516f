"""The catalog: where dataset versions live, how they are committed, and how people read them."""
