"""The scheme's payment files: which enrolled members paid which month."""
