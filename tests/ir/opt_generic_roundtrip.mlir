// RUN: rducc opt %s -p rdu-fuse,rdu-lower --print-op-generic | filecheck %s --check-prefix=GENERIC
// RUN: diff <(rducc opt %s -p rdu-fuse,rdu-lower) <(rducc opt %s -p rdu-fuse,rdu-lower --print-op-generic | rducc opt)
// RUN: diff <(rducc opt %s) <(rducc opt %s --print-op-generic | rducc opt -)
// The generic format (every op as "name"(operands) <{properties}> {attributes} : type) parses
// back to the same module, for rgraph IR and for rdu IR.

func.func @forward(%x: tensor<4x8xf32>) -> tensor<8x4xf32> {
  %w = rgraph.weight "w" : tensor<8x8xf32>
  %c = rgraph.full {value = 2.0 : f64} : tensor<f32>
  %0 = rgraph.linear %x, %w : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
  %1 = rgraph.mul %0, %c : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %2 = rgraph.permute %1 {dims = array<i64: 1, 0>} : tensor<4x8xf32> -> tensor<8x4xf32>
  func.return %2 : tensor<8x4xf32>
}

// GENERIC: "builtin.module"() ({
// GENERIC: "rdu.tensor"() {{.*}}sym_name = "x"
// GENERIC: "rdu.kernel"() ({
// GENERIC: "rdu.compute"(
