// RUN: rducc opt %s -p rdu-fuse,rdu-lower --print-between-passes | filecheck %s
// The IR after each pass but the last, then the result.

func.func @forward(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = rgraph.exp %x : tensor<4xf32> -> tensor<4xf32>
  %1 = rgraph.neg %0 : tensor<4xf32> -> tensor<4xf32>
  func.return %1 : tensor<4xf32>
}

// CHECK:      IR after rdu-fuse:
// CHECK-NEXT: builtin.module {
// CHECK:        rgraph.exp %x {rdu.kernel = 0 : i64}
// CHECK:        rgraph.neg %{{.*}} {rdu.kernel = 0 : i64}
// CHECK-NOT:  IR after
// CHECK:      builtin.module attributes {rdu.chip = "small"} {
// CHECK:        rdu.kernel "k0_exp_x2"
