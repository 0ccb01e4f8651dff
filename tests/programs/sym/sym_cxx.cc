// C++ names for symbolize's address input: overloads, a namespace, a
// member function and a static one; addr2line looks names up demangled too.
namespace ns {
struct counter {
    int add(int x);
    static int twice(char c);
    int n = 0;
};
int counter::add(int x) { return n += x; }
int counter::twice(char c) { return 2 * c; }
}  // namespace ns

int pick(int a) { return a + 1; }
int pick(double d) { return static_cast<int>(d * 2); }

int main(int argc, char **)
{
    ns::counter k;
    return k.add(argc) + ns::counter::twice('a') + pick(argc) + pick(argc * 0.5);
}
