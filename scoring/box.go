package scoring

import "unsafe"

// The expression environment holds numbers as interface values, and Go
// boxes a float64 (or an int above 255) into an interface with an
// allocation of its own: about half a dozen per evaluation. boxFloat and
// boxInt build the interface around a slot of the evaluation's scratch
// instead. That is sound because an interface's data is never written
// through it (Go copies boxed values out), and because the scratch, its
// slots and the environment map that holds the interfaces are owned by
// one evaluation at a time: a slot is only rewritten when the environment
// entry that points to it is replaced, before the next rule runs.

// eface is the layout of an empty interface value.
type eface struct {
	typ, data unsafe.Pointer
}

var (
	float64Type = (*eface)(unsafe.Pointer(&[]any{float64(0)}[0])).typ
	intType     = (*eface)(unsafe.Pointer(&[]any{int(0)}[0])).typ
)

// boxFloat stores v in *slot and returns an interface holding it.
func boxFloat(slot *uint64, v float64) any {
	*(*float64)(unsafe.Pointer(slot)) = v
	var out any
	e := (*eface)(unsafe.Pointer(&out))
	e.typ, e.data = float64Type, unsafe.Pointer(slot)
	return out
}

// boxInt stores v in *slot and returns an interface holding it; ints
// 0..255 need no slot (Go boxes them without allocating).
func boxInt(slot *uint64, v int) any {
	if v >= 0 && v < 256 {
		return v
	}
	*(*int)(unsafe.Pointer(slot)) = v
	var out any
	e := (*eface)(unsafe.Pointer(&out))
	e.typ, e.data = intType, unsafe.Pointer(slot)
	return out
}
