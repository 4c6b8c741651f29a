"""Train m2t's default model: python scripts/train_default_model.py DATASET_DIR OUT_DIR [--resume]"""
import sys
from m2t.models.config import TrainConfig, model_preset
from m2t.models.training import train

resume = "--resume" in sys.argv[3:]
tcfg = TrainConfig(epochs=40, batch_size=64, lr=1e-3, weight_decay=1e-4, lambda_spat=2.0, lambda_adapt=3.0,
                   min_freq=2, min_frames=20, max_frames=400, max_caption_tokens=24, seed=1234)
mcfg = model_preset("kit", skeleton="t2m", dropout=0.3)
res = train(sys.argv[1], sys.argv[2], mcfg, tcfg, device="cpu", resume=resume,
            log=lambda m: print(m, flush=True))
print("DONE", res.best_epoch, res.best_val_bleu4, flush=True)
