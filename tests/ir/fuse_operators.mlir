// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse{boundary=operator}' | filecheck %s
// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse{boundary=operator max-ops=2}' | filecheck %s --check-prefix=SPLIT
// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse{boundary=operator},rdu-lower' | filecheck %s --check-prefix=KERNELS
// RUN: (rducc opt %s -p 'rdu-target{chip=small},rdu-fuse{boundary=ops}' 2>&1; test $? -eq 2) | filecheck %s --check-prefix=BAD
// -O0 (the paper's o0): one framework operator per kernel. An operator is a contiguous run of ops
// of one module scope (the NameLoc the importer records); a run of views (reshape, permute) joins
// the operator before it; root-module ops and ops without a location are operators of their own.

func.func @forward(%x: tensor<4x8xf32>, %wq: tensor<8x8xf32>, %wo: tensor<8x8xf32>) -> tensor<8x4xf32> {
  %c = rgraph.full {value = 2.0 : f64} : tensor<f32>
  %0 = rgraph.mul %x, %x : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32> loc("layers.0.norm"("m.py":1:0))
  %1 = rgraph.rsqrt %0 : tensor<4x8xf32> -> tensor<4x8xf32> loc("layers.0.norm"("m.py":1:0))
  %2 = rgraph.mul %x, %1 : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32> loc("layers.0.norm"("m.py":1:0))
  %3 = rgraph.linear %2, %wq : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32> loc("layers.0.attn.q_proj"("m.py":2:0))
  %4 = rgraph.reshape %3 : tensor<4x8xf32> -> tensor<4x8xf32> loc("layers.0.attn"("m.py":2:0))
  %5 = rgraph.permute %4 {dims = array<i64: 1, 0>} : tensor<4x8xf32> -> tensor<8x4xf32> loc("layers.0.attn"("m.py":2:0))
  %k = rgraph.linear %2, %wq : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32> loc("layers.0.attn.k_proj"("m.py":3:0))
  %s = rgraph.permute %5 {dims = array<i64: 1, 0>} : tensor<8x4xf32> -> tensor<4x8xf32> loc("layers.0.attn"("m.py":3:0))
  %6 = rgraph.add %s, %k : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32> loc("layers.0.attn"("m.py":3:0))
  %7 = rgraph.softmax %6 {dim = 1 : i64} : tensor<4x8xf32> -> tensor<4x8xf32> loc("layers.0.attn"("m.py":3:0))
  %8 = rgraph.linear %7, %wo : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32> loc("layers.0.attn.o_proj"("m.py":4:0))
  %9 = rgraph.add %x, %8 : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32> loc("layers.0"("m.py":5:0))
  %10 = rgraph.mul %9, %c : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32> loc("m.py":6:0)
  %11 = rgraph.exp %10 : tensor<4x8xf32> -> tensor<4x8xf32> loc("m.py":6:0)
  %12 = rgraph.neg %11 : tensor<4x8xf32> -> tensor<4x8xf32>
  %13 = rgraph.permute %12 {dims = array<i64: 1, 0>} : tensor<4x8xf32> -> tensor<8x4xf32>
  func.return %13 : tensor<8x4xf32>
}

// The norm's three ops are one kernel.
// CHECK:      rgraph.mul {{.*}}rdu.kernel = 0
// CHECK-NEXT: rgraph.rsqrt {{.*}}rdu.kernel = 0
// CHECK-NEXT: rgraph.mul {{.*}}rdu.kernel = 0
// The projection and the views right after it (in the attention module's own scope) are one.
// CHECK-NEXT: rgraph.linear {{.*}}rdu.kernel = 1
// CHECK-NEXT: rgraph.reshape {{.*}}rdu.kernel = 1
// CHECK-NEXT: rgraph.permute {{.*}}rdu.kernel = 1
// CHECK-NEXT: rgraph.linear {{.*}}rdu.kernel = 2
// The attention core: the next run of attention-scope ops, which does more than views.
// CHECK-NEXT: rgraph.permute {{.*}}rdu.kernel = 3
// CHECK-NEXT: rgraph.add {{.*}}rdu.kernel = 3
// CHECK-NEXT: rgraph.softmax {{.*}}rdu.kernel = 3
// CHECK-NEXT: rgraph.linear {{.*}}rdu.kernel = 4
// The residual add of the decoder layer is an operator of its own.
// CHECK-NEXT: rgraph.add {{.*}}rdu.kernel = 5
// Root-module ops and ops without a model location: one kernel each; a trailing view joins the op before.
// CHECK-NEXT: rgraph.mul {{.*}}rdu.kernel = 6
// CHECK-NEXT: rgraph.exp {{.*}}rdu.kernel = 7
// CHECK-NEXT: rgraph.neg {{.*}}rdu.kernel = 8
// CHECK-NEXT: rgraph.permute {{.*}}rdu.kernel = 8

// The chip-fit rule still holds inside an operator: the three-op norm splits under max-ops=2.
// SPLIT:      rgraph.mul {{.*}}rdu.kernel = 0
// SPLIT-NEXT: rgraph.rsqrt {{.*}}rdu.kernel = 0
// SPLIT-NEXT: rgraph.mul {{.*}}rdu.kernel = 1
// SPLIT-NEXT: rgraph.linear {{.*}}rdu.kernel = 2

// Kernels are named after their operator's module; intermediates inside an operator stay on chip.
// KERNELS:     rdu.kernel "layers.0.norm" {
// KERNELS:       rdu.compute "rsqrt"
// KERNELS-NOT:   rdu.load
// KERNELS:       rdu.compute "mul"
// KERNELS:     rdu.kernel "layers.0.attn" {
// KERNELS:       rdu.compute "linear"
// KERNELS:       rdu.compute "permute"
// KERNELS:     rdu.kernel "layers.0.attn.k_proj" {
// KERNELS:     rdu.kernel "layers.0.attn_2" {
// KERNELS:       rdu.compute "softmax"
// KERNELS:     rdu.kernel "layers.0.attn.o_proj" {
// KERNELS:     rdu.kernel "layers.0" {
// KERNELS:     rdu.kernel "forward" {
// KERNELS:       rdu.compute "full"
// KERNELS:       rdu.compute "mul"

// BAD: error: bad pass pipeline {{.*}}rdu-fuse: unknown boundary 'ops': choose one of chip, operator
