// RUN: rducc opt %s --split-input-file --verify-diagnostics | filecheck %s
// With --verify-diagnostics each failing chunk prints its diagnostic (our one line, then the IR
// with the op marked, as xDSL prints it) and the run goes on: one chunk per verifier rule.

func.func @forward(%x: tensor<4xf32>) -> tensor<4x2xf32> {
  %0 = rgraph.add %x, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4x2xf32>
  func.return %0 : tensor<4x2xf32>
}

// CHECK:      the input IR does not verify: rgraph.add: result shape (4, 2) is not the broadcast (4,) of its inputs (at {{.*}}opt_verify_diagnostics.mlir:6:3)
// CHECK:      %0 = "rgraph.add"(%x, %x) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4x2xf32>
// CHECK-NEXT: ^^^^
// CHECK-NEXT: | Operation does not verify: rgraph.add: result shape (4, 2) is not the broadcast (4,)

// -----

func.func @forward(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = rgraph.permute %x {dims = array<i64: 0, 0>} : tensor<4x8xf32> -> tensor<4x8xf32>
  func.return %0 : tensor<4x8xf32>
}

// The line number counts from the top of the file, not of the chunk.
// CHECK:      the input IR does not verify: rgraph.permute: {{.*}} (at {{.*}}opt_verify_diagnostics.mlir:18:3)

// -----

// A valid chunk is still printed.
func.func @forward(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = rgraph.exp %x : tensor<4xf32> -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}

// CHECK:      builtin.module {
// CHECK:        rgraph.exp %x : tensor<4xf32> -> tensor<4xf32>
