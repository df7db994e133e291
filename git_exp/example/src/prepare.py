"""Stage `prepare`: shuffle data/raw.csv and split it into train and test sets."""
import csv
import os
import random

from params import ROOT, load_params


def main():
    params = load_params("prepare")
    with open(os.path.join(ROOT, "data", "raw.csv"), newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(reader)

    # A seeded shuffle: the same params always give the same split.
    random.Random(params["seed"]).shuffle(rows)
    n_test = round(len(rows) * params["split"])
    if not 0 < n_test < len(rows):
        raise SystemExit(f"prepare.split={params['split']} leaves no train or no test rows")

    out_dir = os.path.join(ROOT, "data", "prepared")
    os.makedirs(out_dir, exist_ok=True)
    for name, part in (("test.csv", rows[:n_test]), ("train.csv", rows[n_test:])):
        with open(os.path.join(out_dir, name), "w", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(part)
    print(f"prepare: {len(rows) - n_test} train rows, {n_test} test rows in data/prepared/")


if __name__ == "__main__":
    main()
