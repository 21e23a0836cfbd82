"""Data in: images, datasets (folders, roots), fixations; files written safely."""
