"""torch_round_trip.py — a net trained with gradflow moves into torch.nn.Sequential and back, in one line
each way, and predicts the same (to float rounding: the two libraries sum in different orders).

    python3 python/examples/torch_round_trip.py        (needs python3-torch and numpy)
"""
import sys

import gradflow as gf

try:
    import numpy as np
    import torch
except ImportError as e:
    print("torch_round_trip: skipped, %s (install python3-torch)" % e)
    sys.exit(0)
if not gf.HAVE_NUMPY:  # GRADFLOW_HIDE_NUMPY: outputs are array.array, which torch.from_numpy refuses
    print("torch_round_trip: skipped, gradflow gives no numpy arrays here")
    sys.exit(0)

x = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
y = np.stack([np.sin(x[:, 0]) + x[:, 1], x[:, 1] * x[:, 2]], axis=1).astype(np.float32)

# gradflow: 3 -> 5 (tanh) -> 4 (ReLU) -> 2, trained with Adam.
net = gf.Net(3, seed=1)
net.add_dense(5, "tanh")
net.add_dense(4, "relu")
net.add_dense(2)
net.set_optimizer("adam", lr=0.01)
net.fit(x, y, epochs=50, batch_size=16)

# The equivalent torch.nn.Sequential: every activation but identity is a module after its layer,
# so state_dict()'s keys are "0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias".
model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 4), torch.nn.ReLU(),
                            torch.nn.Linear(4, 2))
model.load_state_dict({k: torch.from_numpy(v) for k, v in net.state_dict().items()})   # gradflow -> torch
with torch.no_grad():
    gap = np.abs(model(torch.from_numpy(x)).numpy() - net.predict(x)).max()
print("gradflow -> torch: largest difference in predictions %.2g" % gap)
assert gap < 1e-5

# Train on in torch, then bring the weights back into a net loaded from the saved model file.
net.save("model.gfm")
opt = torch.optim.SGD(model.parameters(), lr=0.05)
for _ in range(20):
    opt.zero_grad()
    torch.nn.functional.mse_loss(model(torch.from_numpy(x)), torch.from_numpy(y)).backward()
    opt.step()
back = gf.Net.load("model.gfm")
back.load_state_dict(model.state_dict())                                                 # torch -> gradflow
with torch.no_grad():
    gap = np.abs(model(torch.from_numpy(x)).numpy() - back.predict(x)).max()
print("torch -> gradflow: largest difference in predictions %.2g" % gap)
assert gap < 1e-5
