"""Maps: detector and classifier CAMs, gradient saliency and the human references."""
