"""Stage `train`: a small neural network, in plain Python, that learns to
tell the two half-moons of data/prepared/ apart.

One hidden layer of tanh units and a sigmoid output, trained by mini-batch
stochastic gradient descent on the log loss. Writes models/model.json (the
weights) and, through git-exp's logger git_exp.live, after every epoch:
live/metrics.json (the test accuracy and loss so far, and the epoch as
"step") and live/plots/metrics/*.tsv (one row per epoch, measured on the
test set). `git exp show` lists a run in progress with those values.
"""
import csv
import json
import math
import os
import random
import sys

from params import ROOT, load_params

try:
    from git_exp.live import Live
except ImportError:
    sys.exit("src/train.py logs with git_exp.live, which comes with git-exp: run it with the "
             "Python where git-exp is installed (pip install git-exp)")


def read_csv(name):
    with open(os.path.join(ROOT, "data", "prepared", name), newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [(float(r["x"]), float(r["y"])) for r in rows], [int(r["label"]) for r in rows]


def standardize(points, mean, std):
    return [tuple((v - m) / s for v, m, s in zip(p, mean, std)) for p in points]


class Network:
    def __init__(self, hidden, rng):
        # Random initial weights break the symmetry between hidden units.
        self.w1 = [[rng.gauss(0.0, 1.0) for _ in range(2)] for _ in range(hidden)]
        self.b1 = [0.0] * hidden
        self.w2 = [rng.gauss(0.0, 1.0 / math.sqrt(hidden)) for _ in range(hidden)]
        self.b2 = 0.0

    def forward(self, x):
        h = [math.tanh(w[0] * x[0] + w[1] * x[1] + b) for w, b in zip(self.w1, self.b1)]
        z = sum(w * v for w, v in zip(self.w2, h)) + self.b2
        z = max(-30.0, min(30.0, z))  # keeps exp() finite at any learning rate
        return h, 1.0 / (1.0 + math.exp(-z))

    def step(self, batch, lr):
        """One gradient step on the mean log loss of BATCH, a list of (x, label)."""
        hidden = len(self.b1)
        g_w1 = [[0.0, 0.0] for _ in range(hidden)]
        g_b1 = [0.0] * hidden
        g_w2 = [0.0] * hidden
        g_b2 = 0.0
        for x, label in batch:
            h, p = self.forward(x)
            dz = p - label  # d(log loss)/dz for a sigmoid output
            for j, hj in enumerate(h):
                dh = dz * self.w2[j] * (1.0 - hj * hj)
                g_w2[j] += dz * hj
                g_w1[j][0] += dh * x[0]
                g_w1[j][1] += dh * x[1]
                g_b1[j] += dh
            g_b2 += dz
        rate = lr / len(batch)
        for j in range(hidden):
            self.w2[j] -= rate * g_w2[j]
            self.w1[j][0] -= rate * g_w1[j][0]
            self.w1[j][1] -= rate * g_w1[j][1]
            self.b1[j] -= rate * g_b1[j]
        self.b2 -= rate * g_b2

    def evaluate(self, points, labels):
        loss = correct = 0
        for x, label in zip(points, labels):
            p = min(max(self.forward(x)[1], 1e-12), 1.0 - 1e-12)
            loss -= math.log(p) if label else math.log(1.0 - p)
            correct += (p >= 0.5) == bool(label)
        return loss / len(labels), correct / len(labels)


def main():
    params = load_params("train")
    train_x, train_y = read_csv("train.csv")
    test_x, test_y = read_csv("test.csv")

    # Scale both sets with the training set's statistics only.
    mean = [sum(c) / len(c) for c in zip(*train_x)]
    std = [math.sqrt(sum((v - m) ** 2 for v in c) / len(c)) or 1.0 for c, m in zip(zip(*train_x), mean)]
    train_x, test_x = standardize(train_x, mean, std), standardize(test_x, mean, std)

    rng = random.Random(params["seed"])
    net = Network(params["hidden"], rng)
    order = list(range(len(train_x)))
    with Live(os.path.join(ROOT, "live")) as live:
        for epoch in range(1, params["epochs"] + 1):
            rng.shuffle(order)
            for start in range(0, len(order), params["batch"]):
                batch = order[start:start + params["batch"]]
                net.step([(train_x[i], train_y[i]) for i in batch], params["lr"])
            loss, accuracy = net.evaluate(test_x, test_y)
            live.log_metric("loss", round(loss, 4))
            live.log_metric("accuracy", round(accuracy, 4))
            live.next_step()   # step 0 is epoch 1
            if epoch % 10 == 0 or epoch == params["epochs"]:
                print(f"epoch {epoch:3d}  loss {loss:.4f}  accuracy {accuracy:.4f}", flush=True)

    os.makedirs(os.path.join(ROOT, "models"), exist_ok=True)
    with open(os.path.join(ROOT, "models", "model.json"), "w") as fh:
        json.dump({"hidden": params["hidden"], "mean": mean, "std": std,
                   "w1": net.w1, "b1": net.b1, "w2": net.w2, "b2": net.b2}, fh)
        fh.write("\n")

if __name__ == "__main__":
    main()
