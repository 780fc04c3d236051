"""`edgec fit`: search the compressions of a model for the most accurate one that fits a board.

    space:        the configurations (structured pruning level with per-group ratios from the
                  sensitivity analysis, sparsity, clusters, factorization energy, distillation,
                  int8 or 16x8), their recipes, and their order (predicted accuracy loss)
    sensitivity:  accuracy after pruning each channel group alone at a few ratios, no training
    trial:        one configuration measured as `edgec build` measures it: its memory first (one-shot
                  compression: flash and SRAM do not depend on fine-tuning), then, only if it can
                  fit, fine-tuned and measured again, with its int8 accuracy on the evaluation data
    runner:       where trials run: in this process (--workers 1) or as Ray tasks
    search:       the loop: order, prune by measured memory, run, store (resumable), stop
    result:       the trials' table, the Pareto front, the best fit per target, report.json/html

Nothing here imports Ray unless trials run on Ray, nor TensorFlow until a model is loaded.
"""
