# RUN: rducc import %s | filecheck %s
# Import keeps linear coarse, turns scalars into rank-0 fulls, casts for type promotion, locates every
# op at its model line (in a NameLoc naming its module, `fc`, if not the root); weights are resources.
import torch
from torch import nn


class Ops(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x, ids):
        y = self.fc(x) * 0.5
        z = torch.softmax(y, dim=-1) + ids.unsqueeze(-1)
        return z.sum(dim=0), torch.cumsum(ids, 0)


model = Ops()
example_inputs = (torch.randn(3, 8), torch.tensor([1, 2, 3]))

# CHECK:      func.func @forward(%x: tensor<3x8xf32> {{.*}}, %ids: tensor<3xi64> {{.*}}) -> (tensor<4xf32>, tensor<3xi64>)
# CHECK:      %[[W:.*]] = rgraph.weight "fc.weight" {value = dense_resource<[[WKEY:fc.weight_[0-9a-f]+]]> : tensor<4x8xf32>} : tensor<4x8xf32>
# CHECK:      %[[B:.*]] = rgraph.weight "fc.bias" {value = dense_resource<[[BKEY:fc.bias_[0-9a-f]+]]> : tensor<4xf32>} : tensor<4xf32>
# CHECK:      %[[L:.*]] = rgraph.linear %x, %[[W]], %[[B]] : {{.*}} loc("fc"("import_ops.py":14:0))
# CHECK:      %[[H:.*]] = rgraph.full {value = 5.000000e-01 : f64} : tensor<f32> loc("import_ops.py":14:0)
# CHECK-NEXT: rgraph.mul %[[L]], %[[H]]
# CHECK:      rgraph.softmax %{{.*}} {dim = -1 : i64} : tensor<3x4xf32> -> tensor<3x4xf32> loc("import_ops.py":15:0)
# CHECK:      %[[U:.*]] = rgraph.reshape %ids {{.*}}: tensor<3xi64> -> tensor<3x1xi64>
# CHECK-NEXT: %[[C:.*]] = rgraph.cast %[[U]] {{.*}}: tensor<3x1xi64> -> tensor<3x1xf32>
# CHECK-NEXT: rgraph.add {{.*}}, %[[C]]
# CHECK:      rgraph.sum %{{.*}} {dims = array<i64: 0>, keepdim = false}
# CHECK:      rgraph.cumsum %ids {dim = 0 : i64} : tensor<3xi64> -> tensor<3xi64> loc("import_ops.py":16:0)
# CHECK:      dialect_resources: {
# CHECK-NEXT:   builtin: {
# CHECK-NEXT:     [[BKEY]]: "0x10000000{{([0-9a-f]{32})}}",[[WKEY]]: "0x10000000{{([0-9a-f]{256})}}"
