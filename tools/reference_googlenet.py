"""D2L's GoogLeNet, and the paper's, in PyTorch: the references the C++ networks are tested against.

The same network as ../shared/peers/torch_googlenet.py and D2L's chapter; its state_dict names
("0.0.weight", "2.0.p2_2.weight", "5.bias", ...) are the names of googlenet's weights files.
"""
import torch
from torch import nn
from torch.nn import functional as F


class Inception(nn.Module):
    def __init__(self, cin, c1, c2, c3, c4):
        super().__init__()
        self.p1_1 = nn.Conv2d(cin, c1, 1)
        self.p2_1 = nn.Conv2d(cin, c2[0], 1)
        self.p2_2 = nn.Conv2d(c2[0], c2[1], 3, padding=1)
        self.p3_1 = nn.Conv2d(cin, c3[0], 1)
        self.p3_2 = nn.Conv2d(c3[0], c3[1], 5, padding=2)
        self.p4_1 = nn.MaxPool2d(3, 1, 1)
        self.p4_2 = nn.Conv2d(cin, c4, 1)

    def forward(self, x):
        p1 = F.relu(self.p1_1(x))
        p2 = F.relu(self.p2_2(F.relu(self.p2_1(x))))
        p3 = F.relu(self.p3_2(F.relu(self.p3_1(x))))
        p4 = F.relu(self.p4_2(self.p4_1(x)))
        return torch.cat((p1, p2, p3, p4), dim=1)


def d2l_googlenet(cin=1, classes=10):
    b1 = nn.Sequential(nn.Conv2d(cin, 64, 7, 2, 3), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
    b2 = nn.Sequential(nn.Conv2d(64, 64, 1), nn.ReLU(), nn.Conv2d(64, 192, 3, padding=1), nn.ReLU(),
                       nn.MaxPool2d(3, 2, 1))
    b3 = nn.Sequential(Inception(192, 64, (96, 128), (16, 32), 32),
                       Inception(256, 128, (128, 192), (32, 96), 64), nn.MaxPool2d(3, 2, 1))
    b4 = nn.Sequential(Inception(480, 192, (96, 208), (16, 48), 64),
                       Inception(512, 160, (112, 224), (24, 64), 64),
                       Inception(512, 128, (128, 256), (24, 64), 64),
                       Inception(512, 112, (144, 288), (32, 64), 64),
                       Inception(528, 256, (160, 320), (32, 128), 128), nn.MaxPool2d(3, 2, 1))
    b5 = nn.Sequential(Inception(832, 256, (160, 320), (32, 128), 128),
                       Inception(832, 384, (192, 384), (48, 128), 128),
                       nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())
    net = nn.Sequential(b1, b2, b3, b4, b5, nn.Linear(1024, classes))
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
    return net


class Tap(nn.Module):
    """Where an auxiliary classifier reads: passes x through and keeps it."""

    def forward(self, x):
        self.seen = x
        return x


class AuxHead(nn.Module):
    """The paper's auxiliary classifier: 5x5/3 average pool, 1x1 conv 128 + ReLU, FC 1024 + ReLU,
    dropout 0.7, FC. `flat` is 128 x the pooled size squared (2048 at 224x224)."""

    def __init__(self, cin, classes, flat):
        super().__init__()
        self.pool = nn.AvgPool2d(5, 3)
        self.conv = nn.Conv2d(cin, 128, 1)
        self.fc1 = nn.Linear(flat, 1024)
        self.dropout = nn.Dropout(0.7)
        self.fc2 = nn.Linear(1024, classes)

    def forward(self, x):
        x = torch.flatten(F.relu(self.conv(self.pool(x))), 1)
        return self.fc2(self.dropout(F.relu(self.fc1(x))))


class PaperGoogLeNet(nn.Sequential):
    """nn.Sequential's names for the main path ("2.0.p1_1.weight"), "aux1.*" and "aux2.*" for the
    heads; in training it returns (logits, aux1 logits, aux2 logits), in evaluation the logits."""

    def __init__(self, *body, aux1, aux2):
        super().__init__(*body)
        self.aux1, self.aux2 = aux1, aux2

    def forward(self, x):
        for m in list(self.children())[:-2]:
            x = m(x)
        if not self.training:
            return x
        taps = [m for m in self.modules() if isinstance(m, Tap)]
        return x, self.aux1(taps[0].seen), self.aux2(taps[1].seen)


def paper_googlenet(classes=1000, size=224):
    """Szegedy et al. 2014, Table 1, as models/paper.json lays it out: LRN after the first pool and
    after the 3x3 conv, ceil-mode pools, dropout 0.4 before the classifier, and the auxiliary
    classifiers after 4a and 4d (their first FC sized for `size`)."""
    lrn = lambda: nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
    pool = lambda: nn.MaxPool2d(3, 2, ceil_mode=True)
    stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3), nn.ReLU(), pool(), lrn(), nn.Conv2d(64, 64, 1), nn.ReLU(),
                         nn.Conv2d(64, 192, 3, padding=1), nn.ReLU(), lrn(), pool())
    b3 = nn.Sequential(Inception(192, 64, (96, 128), (16, 32), 32),
                       Inception(256, 128, (128, 192), (32, 96), 64), pool())
    b4 = nn.Sequential(Inception(480, 192, (96, 208), (16, 48), 64), Tap(),
                       Inception(512, 160, (112, 224), (24, 64), 64),
                       Inception(512, 128, (128, 256), (24, 64), 64),
                       Inception(512, 112, (144, 288), (32, 64), 64), Tap(),
                       Inception(528, 256, (160, 320), (32, 128), 128), pool())
    b5 = nn.Sequential(Inception(832, 256, (160, 320), (32, 128), 128),
                       Inception(832, 384, (192, 384), (48, 128), 128),
                       nn.AdaptiveAvgPool2d((1, 1)), nn.Dropout(0.4), nn.Flatten())
    side = size
    for _ in range(4):  # conv /2, then three ceil-mode pools /2 up to inception 4a
        side = (side + 1) // 2
    flat = 128 * ((side - 5) // 3 + 1) ** 2
    net = PaperGoogLeNet(stem, b3, b4, b5, nn.Linear(1024, classes),
                         aux1=AuxHead(512, classes, flat), aux2=AuxHead(528, classes, flat))
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
    return net
