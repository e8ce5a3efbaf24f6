"""The analysis pipeline: discover -> extract -> link -> rules -> reach -> report."""
