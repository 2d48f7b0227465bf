"""``logitnet evaluate``: score a model on labelled pictures."""

from __future__ import annotations

import argparse

import numpy as np

from logitnet.cli._common import (
    Feedback,
    add_data,
    add_data_file,
    add_feedback,
    add_model,
    add_split,
    check_outputs,
    data_options,
    load_data,
    print_json,
)
from logitnet.files import shown


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "evaluate",
        help="score a model: accuracy, precision, recall, F1, ROC AUC, log loss",
        description="Score a saved model on labelled pictures: the course's "
        "test set, or the test split of your own --images folder (the same "
        "--test-fraction and --seed as in training give the same split).",
    )
    add_scoring_options(parser)
    parser.add_argument(
        "--gallery",
        metavar="PNG",
        help="draw the misclassified pictures with true and predicted labels",
    )
    add_feedback(
        parser,
        json_help="print a JSON object with the metrics, the confusion matrix "
        "and the misclassified pictures",
    )
    parser.set_defaults(func=run)


def add_scoring_options(parser: argparse.ArgumentParser) -> None:
    """--model, the pictures (--data-dir, --images or --data) and --split:
    what :func:`scored` reads."""
    add_model(parser)
    add_data(parser, split_from_model=True)
    add_data_file(parser, what="score the pictures")
    add_split(parser)


def scored(args: argparse.Namespace, feedback: Feedback):
    """The model --model names, scored on the pictures --split chooses.

    Returns
    -------
    model : SavedModel
    source : dict
        Where the pictures came from, the split and their number.
    result : logitnet.app.evaluation.Evaluation
    wrong : ndarray of shape (k, height, width, 3), uint8
        The misclassified pictures, in the order of ``result.misclassified``.
    first : ndarray of shape (height, width, 3), uint8, or None
        The first picture scored (the report draws its computation graph);
        None when there is none.
    """
    from logitnet.app.evaluation import (
        evaluate,
        evaluate_file,
        file_pictures,
        labelled_pictures,
    )
    from logitnet.app.modelfile import load_picture_model

    model = load_picture_model(args.model)
    if args.data is not None:
        data_options(args, model)
        result, source = evaluate_file(model, args.data, args.split)
        rows = source.pop("rows")
        wrong = file_pictures(
            args.data, [rows[i] for i in result.misclassified], model.image_shape
        )
        first = file_pictures(args.data, rows[:1], model.image_shape)
        return model, source, result, wrong, (first[0] if len(first) else None)
    # The course's test set is one file: the training file is not needed.
    splits = ("train", "test") if args.split == "all" else (args.split,)
    data = load_data(
        args, feedback, image_shape=tuple(model.image_shape), model=model, splits=splits
    )
    images, labels, source = labelled_pictures(
        data,
        model,
        args.split,
        where=args.images or args.data_dir or "the course's data",
    )
    result = evaluate(model, images, labels)
    first = images[0] if len(images) else None
    return model, source, result, images[result.misclassified], first


def misclassified_names(model, result) -> tuple[list[str], list[str]]:
    """The true and the predicted class names of the misclassified pictures."""
    wrong = result.misclassified
    return (
        [model.classes[i] for i in result.labels[wrong]],
        [model.classes[i] for i in result.predicted[wrong]],
    )


def wrong_probability(result) -> list[float]:
    """The probability the model gave its (wrong) answer, per misclassified
    picture."""
    p = result.probability[result.misclassified]
    chosen = result.predicted[result.misclassified]
    if p.ndim == 2:  # k classes: each class's probability
        return [float(q) for q in p[np.arange(chosen.size), chosen]]
    return [float(q if label else 1 - q) for q, label in zip(p, chosen, strict=True)]


def run(args: argparse.Namespace) -> int:
    check_outputs(args, {"--gallery": args.gallery})
    feedback = Feedback(args)
    model, source, result, wrong_images, _ = scored(args, feedback)
    wrong = result.misclassified
    if args.gallery is not None:
        from logitnet.viz import plots

        figure = plots.gallery(
            wrong_images,
            *misclassified_names(model, result),
            probabilities=wrong_probability(result),
            arrows=len(model.classes) > 2,
        )
        plots.save_png(figure, args.gallery)
        feedback.note(f"{wrong.size} misclassified pictures drawn in {args.gallery}")
    if args.json:
        print_json(
            {
                "model": str(args.model),  # a URL without its secrets
                "data": source,
                "classes": model.classes,
                "metrics": result.metrics,
                "confusion_matrix": result.confusion.tolist(),
                "misclassified": [
                    {
                        "index": int(i),
                        "true": model.classes[result.labels[i]],
                        "predicted": model.classes[result.predicted[i]],
                        "probability": p,
                    }
                    for i, p in zip(wrong, _json_probability(result), strict=True)
                ],
                **_about_classes(model.classes, result),
            }
        )
        return 0
    _print_table(model.classes, source, result)
    return 0


def _json_probability(result) -> list[float]:
    """``--json``'s ``probability`` of each misclassified picture: class
    1's for two classes (as ever), the predicted class's for more."""
    if result.probability.ndim == 2:
        return wrong_probability(result)
    return [float(result.probability[i]) for i in result.misclassified]


def _about_classes(classes: list[str], result) -> dict:
    """``--json``'s part on the classes: two, which one precision, recall
    and F1 are about; more, each class's metrics, the macro and weighted
    averages and the confusion matrix as row shares."""
    from logitnet.app.perclass import class_report

    if len(classes) == 2:
        return {"positive_class": classes[1]}
    report = class_report(result.confusion, classes)
    return {
        "per_class": report["per_class"],
        "averages": {"macro": report["macro"], "weighted": report["weighted"]},
        "confusion_shares": report["shares"],
    }


def _print_classes(classes: list[str], result) -> None:
    """k classes as text: each class's precision, recall, F1 and support,
    the macro and weighted averages, and the confusion matrix's row shares."""
    from logitnet.app.perclass import class_report

    report = class_report(result.confusion, classes)
    width = max(len(c) for c in [*classes, "weighted avg"])

    def cells(row):
        return "".join(
            f"  {'-' if row[m] is None else f'{row[m]:.4f}':>9}"
            for m in ("precision", "recall", "f1")
        )

    print(
        "per class" + " " * (width - 9) + "  precision     recall         f1  pictures"
    )
    for name, row in report["per_class"].items():
        print(f"{name:>{width}}{cells(row)}  {row['support']:>8}")
    for kind in ("macro", "weighted"):
        print(f"{kind + ' avg':>{width}}{cells(report[kind])}")
    print("confusion matrix as shares of each true class (rows sum to 1)")
    cell = max(5, *(len(c) for c in classes))
    print(" " * width + "".join(f"  {c:>{cell}}" for c in classes))
    for name, shares in zip(classes, report["shares"], strict=True):
        text = ["-"] * len(classes) if shares is None else [f"{v:.3f}" for v in shares]
        print(f"{name:>{width}}" + "".join(f"  {t:>{cell}}" for t in text))


def _what_precision_is_about(classes: list[str]) -> str:
    """The line that says which class precision, recall and F1 are about."""
    if len(classes) == 2:
        return (
            f"precision, recall and f1 are of {classes[1]} (the positive class, "
            "label 1)"
        )
    return (
        "precision, recall and f1 are macro averages over the classes; roc_auc "
        "one class against the rest"
    )


def _print_table(classes: list[str], source: dict, result) -> None:
    """The metrics and the confusion matrix as text."""
    from logitnet.app.evaluation import undefined_in_words

    classes = [shown(c) for c in classes]  # names from a file: safe to print
    print(f"{source['split']} pictures: {source['n_images']} ({source['kind']})")
    print(_what_precision_is_about(classes))
    for name, value in result.metrics.items():
        if value is None:
            text = undefined_in_words(name, classes, source["split"])
        else:
            text = f"{value:.4f}"
        print(f"{name:<10} {text}")
    width = max(len(c) for c in classes)
    print("confusion matrix (rows: true, columns: predicted)")
    print(" " * width + "".join(f"  {c:>{width}}" for c in classes))
    for name, row in zip(classes, result.confusion, strict=True):
        print(f"{name:>{width}}" + "".join(f"  {n:>{width}}" for n in row))
    if len(classes) > 2:
        _print_classes(classes, result)
