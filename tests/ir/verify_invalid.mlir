// RUN: (rducc opt %s 2>&1; test $? -eq 2) | filecheck %s
// Verifier diagnostics reach the user as one line, without a traceback.

func.func @forward(%a: tensor<4x8xf32>, %b: tensor<4x7xf32>) -> tensor<4x8xf32> {
  %0 = rgraph.add %a, %b : (tensor<4x8xf32>, tensor<4x7xf32>) -> tensor<4x8xf32>
  func.return %0 : tensor<4x8xf32>
}

// CHECK: error: the input IR does not verify: rgraph.add: shapes [(4, 8), (4, 7)] do not broadcast (at {{.*}}verify_invalid.mlir:5:3)
// CHECK-NOT: Traceback
