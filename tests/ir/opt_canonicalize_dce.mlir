// RUN: rducc opt %s -p dce | filecheck %s --check-prefix=DCE
// RUN: rducc opt %s -p cse | filecheck %s --check-prefix=CSE
// RUN: rducc opt %s -p canonicalize,dce,cse,rdu-fuse,rdu-lower | filecheck %s --check-prefix=LOWER
// xDSL's generic passes work on rgraph IR: rgraph ops are Pure, so unused ones are dead and
// identical ones are one value.

func.func @forward(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = rgraph.exp %x : tensor<4xf32> -> tensor<4xf32>
  %1 = rgraph.exp %x : tensor<4xf32> -> tensor<4xf32>
  %2 = rgraph.add %0, %1 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %unused = rgraph.neg %x : tensor<4xf32> -> tensor<4xf32>
  func.return %2 : tensor<4xf32>
}

// DCE:      %0 = rgraph.exp %x
// DCE-NEXT: %1 = rgraph.exp %x
// DCE-NEXT: %2 = rgraph.add %0, %1
// DCE-NEXT: func.return %2
// DCE-NOT:  rgraph.neg

// CSE:      %0 = rgraph.exp %x
// CSE-NEXT: %1 = rgraph.add %0, %0
// CSE-NOT:  rgraph.exp

// LOWER:     rdu.kernel "k0_exp_x2"
// LOWER:       rdu.compute "exp"
// LOWER-NOT:   rdu.compute "exp"
// LOWER-NOT:   rdu.compute "neg"
// LOWER:       rdu.compute "add"
