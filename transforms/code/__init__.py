"""Source code as input: programming-language detection, licences, and code's own filters and keys."""
