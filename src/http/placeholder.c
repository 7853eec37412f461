/* placeholder */ typedef int kr_placeholder;
