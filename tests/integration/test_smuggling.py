"""Placeholder: being written (see tests/integration/test_modules.py for the shape)."""
import harness

if __name__ == '__main__':
    harness.main()
