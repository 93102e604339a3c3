// RUN: (rducc opt %s -p 'rdu-target{chip=small},rdu-lower,rdu-plan-memory' 2>&1; test $? -eq 2) | filecheck %s
// A tensor that fits no tier is named, with its size and every tier's capacity.

func.func @forward(%x: tensor<2x1073741824xf32>) -> tensor<2x1073741824xf32> {
  %0 = rgraph.neg %x : tensor<2x1073741824xf32> -> tensor<2x1073741824xf32>
  func.return %0 : tensor<2x1073741824xf32>
}

// CHECK: error: tensor 'x' needs 8,589,934,592 bytes but the largest tier holds 4,294,967,296 (HBM 268,435,456, DDR 4,294,967,296)
