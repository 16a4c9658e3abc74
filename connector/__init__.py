"""order-sync: mirror BigCommerce orders into Lightspeed Retail X-Series sales."""

__version__ = "0.1.0"
USER_AGENT = f"order-sync/{__version__} (+https://github.com/order-sync/order-sync)"
