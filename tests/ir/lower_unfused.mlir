// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-lower' | filecheck %s
// One operator per kernel: every operand is loaded, every result stored back to HBM.

func.func @forward(%x: tensor<4x8xf32>) -> tensor<4x16xf32> {
  %w = rgraph.weight "fc.weight" : tensor<16x8xf32>
  %0 = rgraph.linear %x, %w : (tensor<4x8xf32>, tensor<16x8xf32>) -> tensor<4x16xf32>
  %1 = rgraph.relu %0 : tensor<4x16xf32> -> tensor<4x16xf32>
  func.return %1 : tensor<4x16xf32>
}

// CHECK:      builtin.module attributes {rdu.target = #rdu.target<"small">}
// CHECK:      %[[X:.*]] = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<4x8xf32>
// CHECK-NEXT: %[[W:.*]] = rdu.tensor "fc.weight" {role = #rdu.role<weight>, tier = #rdu.tier<hbm>} : !rdu.mem<16x8xf32>
// CHECK-NEXT: %[[T:.*]] = rdu.tensor "t0_linear" {role = #rdu.role<activation>
// CHECK-NEXT: %[[O:.*]] = rdu.tensor "output0" {role = #rdu.role<output>
// CHECK:      rdu.kernel "k0_linear" {
// CHECK-NEXT:   %[[LX:.*]] = rdu.load %[[X]]
// CHECK-NEXT:   %[[BX:.*]] = rdu.buffer %[[LX]]
// CHECK-NEXT:   %[[LW:.*]] = rdu.load %[[W]]
// CHECK-NEXT:   %[[BW:.*]] = rdu.buffer %[[LW]]
// CHECK-NEXT:   %[[Y:.*]] = rdu.compute "linear"(%[[BX]], %[[BW]]) {unit = #rdu.unit<pcu>
// CHECK-NEXT:   %[[BY:.*]] = rdu.buffer %[[Y]]
// CHECK-NEXT:   rdu.store %[[BY]] to %[[T]]
// CHECK:      rdu.kernel "k1_relu" {
// CHECK-NEXT:   rdu.load %[[T]]
// CHECK:        rdu.compute "relu"
// CHECK:        rdu.store {{.*}} to %[[O]]
