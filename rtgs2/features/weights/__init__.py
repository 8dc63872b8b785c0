"""Shipped weights of the feature network (``*.pt``) with their JSON cards; see ``rtgs2.features.io.SHIPPED``."""
