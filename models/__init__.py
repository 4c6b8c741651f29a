"""m2t models: the guided-attention captioner and everything around it.

- network.py (Eq. 1-10), losses.py (Eq. 11-14), supervision.py (targets of Eq. 12-13), config.py
- data.py / features.py (numpy: datasets and the input transform), batching.py (torch batches)
- training.py, decoding.py (greedy/beam), checkpoint.py (safetensors + JSON), evaluation.py,
  metrics.py, protocols.py
- captioning.py (files -> captions with torch), caption_workers.py (the worker processes of
  `--jobs`), results.py (torch-free result objects, times, body-part scores), schemas.py (JSON
  schemas), writers.py (txt/json/srt/heatmap/segments), caption_batch.py (what `m2t caption`/`segment`
  run: option checks, output planning)
- dataset_build.py (labelled mocap -> HumanML3D-format dataset), errors.py

It imports `m2t.converters`; `m2t.converters` never imports it.
"""
