"""m2t models: the guided-attention captioner (network, supervision, training, decoding,
evaluation, export, shipped weights).

Not implemented yet: this package is the place for issue 3 (the captioner) and issue 4 (the
shipped default model). It may import `converters`; `converters` never imports it.
"""
