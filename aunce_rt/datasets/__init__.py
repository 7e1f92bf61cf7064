"""Dataset indices, benchmark protocols and readers (torch-free)."""
