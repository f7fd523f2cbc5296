"""Privacy layers that run on closed windows before anything is published."""
