class DeliveryError(Exception):
    """A delivery that cannot be applied (yet): recorded on it as its error, tried again later."""
