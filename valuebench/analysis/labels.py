"""What a ground-truth matrix's rows, columns and colours mean, per task type (figures, tables, the board).

Data, not code, in spirit: one row per known task type; an unknown type gets a neutral wording.
"""

from __future__ import annotations

#: task type -> (row/column meaning, colour-bar label)
TYPE_LABELS: dict[str, tuple[str, str]] = {
    "dpo-generalization": ("rows: value i trained on with DPO; columns: value j measured on its held-out scenarios",
                           "generalization M[i, j] (shift in upholding j)"),
    "prompt-steering": ("rows: value i the system prompt points at; columns: value j measured",
                        "steering shift M[i, j] (change in upholding j)"),
    "judge-agreement": ("symmetric: rows and columns are judges of values i and j",
                        "judge agreement (Spearman of the two judges' scores)"),
    "judge-separation": ("rows: judge of value i; columns: value j's scenarios",
                         "separation M[i, j] (judge i tells upholding j from violating it)"),
}


def axes(task_type: str) -> str:
    return TYPE_LABELS.get(task_type, ("rows: value i; columns: value j", ""))[0]


def colorbar_label(task_type: str) -> str:
    return TYPE_LABELS.get(task_type, ("", "ground truth M[i, j]"))[1] or "ground truth M[i, j]"
