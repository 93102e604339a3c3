// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse' | filecheck %s --check-prefix=GROUPS
// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse,rdu-lower' | filecheck %s --check-prefix=KERNEL
// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse{max-ops=2},rdu-lower' | filecheck %s --check-prefix=SPLIT

func.func @forward(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %c = rgraph.full {value = 2.0 : f64} : tensor<f32>
  %0 = rgraph.mul %x, %c : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %1 = rgraph.exp %0 : tensor<4x8xf32> -> tensor<4x8xf32>
  %2 = rgraph.permute %1 {dims = array<i64: 1, 0>} : tensor<4x8xf32> -> tensor<8x4xf32>
  %3 = rgraph.reshape %2 : tensor<8x4xf32> -> tensor<4x8xf32>
  func.return %3 : tensor<4x8xf32>
}

// GROUPS: rgraph.mul {{.*}}rdu.kernel = 0
// GROUPS: rgraph.exp {{.*}}rdu.kernel = 0
// GROUPS: rgraph.permute {{.*}}rdu.kernel = 0
// GROUPS: rgraph.reshape {{.*}}rdu.kernel = 0

// One kernel; the constant is generated on chip and no intermediate goes back to HBM.
// KERNEL-NOT: rdu.tensor "c
// KERNEL:     rdu.kernel "k0_mul_x4"
// KERNEL:       rdu.compute "full"() {unit = #rdu.unit<pcu>
// KERNEL:       rdu.compute "mul"
// KERNEL:       rdu.compute "exp"
// KERNEL:       rdu.compute "permute"({{.*}}) {unit = #rdu.unit<pmu>
// KERNEL:       rdu.compute "reshape"
// KERNEL:       rdu.store
// KERNEL-NOT:   rdu.store
// KERNEL-NOT: rdu.kernel

// SPLIT: rdu.kernel "k0_mul_x2"
// SPLIT:   rdu.store
// SPLIT: rdu.kernel "k1_permute_x2"
// SPLIT:   rdu.load
