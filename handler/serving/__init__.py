"""The serving layer: HTTP requests -> engine runs -> answers, without any TorchServe import.

``request`` (fields -> a validated :class:`~serving.request.Job`, the server's ``Limits``),
``scheduler`` (the runs a worker holds: admission by ``memory``, slices, cancel, watchdog),
``responses`` (one class per answer form: png, json, stream; plus plan, capabilities and errors),
``records`` (the wire records), ``capabilities`` (what this server is). ``style_handler.py`` is
the thin TorchServe adapter on top. It imports the engine (``stylize``); the engine never imports it.
"""
