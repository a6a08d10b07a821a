"""Running the engine away from the UI thread and streaming what it does to the views.

``worker`` is the child-process side and imports no Qt; ``record`` keeps what the
child sent (Qt-free too); the rest are Qt views and the controller.
"""
