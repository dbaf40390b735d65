"""The process runtime shared by all kyso services: server host, interceptors, health."""
