"""Shipped weights of the fusion network (``*.pt``) with their JSON cards; see ``rtgs2.fusion.io.SHIPPED``."""
