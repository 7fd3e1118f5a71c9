// Package durable writes files so that a crash at any point leaves either
// what was there before or all of the new content, and makes directory
// entries (files created, renamed or removed) survive a crash: the
// write-fsync-rename-fsync sequence that every store of maskshare needs.
package durable

import (
	"os"
	"path/filepath"
)

// SyncDir makes dir's entries durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// WriteFile writes b to path with mode perm through a temporary file in
// the same directory, which it syncs and renames over path, then syncs the
// directory: path holds all of b, or what it held before.
func WriteFile(path string, b []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = fill(f, b, perm); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	return SyncDir(dir)
}

// fill gives the new file f exactly mode perm (whatever the umask), writes
// b to it, syncs and closes it.
func fill(f *os.File, b []byte, perm os.FileMode) error {
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

// CreateFile writes b to a new file at path with exactly mode perm
// (whatever the umask), syncs it and its directory. It fails if path
// exists (the error wraps fs.ErrExist): files written this way, keys
// above all, are never replaced. On any other failure it removes the file.
func CreateFile(path string, b []byte, perm os.FileMode) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()
	if err = fill(f, b, perm); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(path))
}
